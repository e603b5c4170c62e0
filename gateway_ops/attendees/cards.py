"""A printable sheet of attendee cards, each with a snippet for the official OpenAI Python client."""
from __future__ import annotations

import html

import pandas as pd

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 1cm; }}
  .cards {{ display: grid; grid-template-columns: repeat(2, 1fr); gap: 0.6cm; }}
  .card {{ border: 1px dashed #888; border-radius: 6px; padding: 0.4cm; break-inside: avoid; }}
  .card h2 {{ margin: 0 0 0.2cm; font-size: 14pt; }}
  .card dl {{ margin: 0 0 0.2cm; font-size: 9pt; }}
  .card dt {{ font-weight: 600; }} .card dd {{ margin: 0 0 0.1cm; font-family: monospace; word-break: break-all; }}
  pre {{ background: #f4f4f4; padding: 0.2cm; font-size: 7.5pt; white-space: pre-wrap; word-break: break-all; }}
  @media print {{ body {{ margin: 0.5cm; }} }}
</style></head>
<body><h1>{title}</h1><div class="cards">
{cards}
</div></body></html>
"""

_SNIPPET = """from openai import OpenAI

client = OpenAI(
    base_url="{base_url}",
    api_key="YOUR_API_KEY",
    default_headers={{"X-User-ID": "{user_id}", "X-User-Key": "{user_key}"}},
)
reply = client.chat.completions.create(
    model="{model}", messages=[{{"role": "user", "content": "Hello!"}}]
)
print(reply.choices[0].message.content)"""


def render_cards_html(keys: pd.DataFrame, gateway_url: str, *, title: str = "Workshop access", model: str = "gpt-4o-mini") -> str:
    """One card per attendee row (``user_id``, ``user_key``, optional ``name``); everything is HTML-escaped."""
    base_url = gateway_url.rstrip("/") + "/v1"
    cards = []
    for row in keys.itertuples(index=False):
        heading = getattr(row, "name", None) or row.user_id
        snippet = _SNIPPET.format(base_url=base_url, user_id=row.user_id, user_key=row.user_key, model=model)
        cards.append(
            f'<section class="card"><h2>{html.escape(str(heading))}</h2><dl>'
            f"<dt>User ID</dt><dd>{html.escape(row.user_id)}</dd>"
            f"<dt>User key</dt><dd>{html.escape(row.user_key)}</dd>"
            f"<dt>Base URL</dt><dd>{html.escape(base_url)}</dd></dl>"
            f"<pre>{html.escape(snippet)}</pre></section>"
        )
    return _PAGE.format(title=html.escape(title), cards="\n".join(cards))
