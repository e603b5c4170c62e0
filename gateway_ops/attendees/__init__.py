"""Preparing attendees: user ids and keys, per-user tiers, and OAuth tokens for codex mode."""
from .cards import render_cards_html
from .kv import CloudflareKV, KVStore, LocalKV, open_kv
from .oauth import load_tokens_csv, store_tokens, revoke_token, users_without_token
from .roster import AttendeeError, issue_keys, read_names_csv, user_ids_for_names, user_ids_numbered, write_keys_csv
from .tiers import clear_tiers, list_tiers, set_tiers

__all__ = [
    "AttendeeError",
    "CloudflareKV",
    "KVStore",
    "LocalKV",
    "clear_tiers",
    "issue_keys",
    "list_tiers",
    "load_tokens_csv",
    "open_kv",
    "read_names_csv",
    "render_cards_html",
    "revoke_token",
    "set_tiers",
    "store_tokens",
    "user_ids_for_names",
    "user_ids_numbered",
    "users_without_token",
    "write_keys_csv",
]
