"""A small form to set a user's limit during the event (ipywidgets; imported only by notebooks).

It takes the same path as ``gateway-ops attendees tier``: the admin API (in force on the user's
next request) whenever an admin token is known, KV only without an admin path (``tier_path``); and
it lists what ``attendees tiers`` lists, both sources (``tier_listing``).
"""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from ..exceptions import GatewayOpsError
from ..settings import Settings
from .tier_listing import list_all_tiers
from .tier_path import set_tier


def tier_form(settings: Settings, target: str | None = None, url: str | None = None) -> widgets.VBox:
    """User id + limit + "Set limit"; after each change, the sentence of what changed and how soon,
    and every override; a refused change is one line ("Not changed: …")."""
    user_box = widgets.Text(description="user id")
    limit_box = widgets.BoundedIntText(value=100, min=0, max=100_000, description="per minute")
    button = widgets.Button(description="Set limit", button_style="primary")
    output = widgets.Output()

    def apply(_button) -> None:
        with output:
            output.clear_output()
            try:
                print(set_tier(settings, user_box.value.strip(), limit_box.value, target=target, url=url).sentence())
            except GatewayOpsError as error:
                print(f"Not changed: {error}")
                return
            try:
                listing = list_all_tiers(settings, target=target, url=url)
            except GatewayOpsError as error:
                print(f"The overrides cannot be listed: {error}")
                return
            if listing.note:
                print(listing.note)
            display(listing.frame)

    button.on_click(apply)
    return widgets.VBox([widgets.HBox([user_box, limit_box, button]), output])
