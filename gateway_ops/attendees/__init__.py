"""Preparing attendees: user ids and keys, per-user tiers, and OAuth tokens for codex mode."""
from .cards import render_cards_html
from .kv import CloudflareKV, KVStore, LocalKV, open_kv
from .oauth import TokenLoan, load_tokens_csv, store_tokens, revoke_token, token_loan, users_without_token
from .prepare import Issued, issue_attendees, issued_check, probe_tier, token_coverage_check
from .roster import AttendeeError, issue_keys, read_names_csv, user_ids_for_names, user_ids_numbered, write_keys_csv
from .tiers import clear_tiers, list_tiers, set_tiers

__all__ = [
    "AttendeeError",
    "CloudflareKV",
    "Issued",
    "KVStore",
    "LocalKV",
    "TokenLoan",
    "clear_tiers",
    "issue_attendees",
    "issue_keys",
    "issued_check",
    "list_tiers",
    "load_tokens_csv",
    "open_kv",
    "probe_tier",
    "read_names_csv",
    "render_cards_html",
    "revoke_token",
    "set_tiers",
    "store_tokens",
    "token_coverage_check",
    "token_loan",
    "user_ids_for_names",
    "user_ids_numbered",
    "users_without_token",
    "write_keys_csv",
]
