"""A small form to set a user's limit during the event (ipywidgets; imported only by notebooks)."""
from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from .kv import PROPAGATION_SECONDS, KVStore
from .roster import AttendeeError
from .tiers import list_tiers, set_tiers


def tier_form(store: KVStore) -> widgets.VBox:
    """User id + limit + "Set limit"; shows the overrides after each change, or the error in one line."""
    user_box = widgets.Text(description="user id")
    limit_box = widgets.BoundedIntText(value=100, min=0, max=100_000, description="per minute")
    button = widgets.Button(description="Set limit", button_style="primary")
    output = widgets.Output()

    def apply(_button) -> None:
        with output:
            output.clear_output()
            try:
                set_tiers(store, {user_box.value.strip(): limit_box.value})
            except AttendeeError as error:
                print(f"Not changed: {error}")
                return
            delay = PROPAGATION_SECONDS.get(store.target, 60)
            print(f"{user_box.value}: {limit_box.value}/min (0 = blocked); in effect within {delay} s.")
            display(list_tiers(store))

    button.on_click(apply)
    return widgets.VBox([widgets.HBox([user_box, limit_box, button]), output])
