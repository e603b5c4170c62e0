"""Notebook 10's control panel: ipywidgets over the admin API, each change followed by a probe.

Every button sends one change (``model``'s ``*_change``), shows the controls now in force, then
sends the probe requests that show what the change did (``probe``) and logs the step. ``tour()``
runs every control once — on, probe, off — and restores the controls found at the start, so a
rehearsal leaves the gateway as it was. Nothing here shows a secret: the admin token stays inside
the client, probe keys inside the prober, and ``checks()`` proves neither reached the page.
Like the dashboard, everything works without a kernel (``Button.click()`` fires the handlers).
"""
from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from ..client import Credentials, choose_model
from ..results import Check
from ..settings import Settings
from . import probe as probes
from .client import AdminClient, open_admin
from .errors import AdminError
from .model import (
    Controls,
    budget_change,
    limit_change,
    maintenance_change,
    max_tokens_change,
    models_change,
)

STYLE = "font:13px system-ui,sans-serif"


class ControlPanel:
    """The facilitator's controls; display it (``panel`` as a cell's last line).

    :param admin: the admin API client (holds the token; never shown)
    :param prober: sends the probe requests that show each change's effect
    """

    def __init__(self, admin: AdminClient, prober: probes.Prober):
        self.admin = admin
        self.prober = prober
        self.steps: list[probes.Step] = []
        self.errors: list[str] = []
        self.state = widgets.HTML()
        self.log = widgets.HTML()
        self.message = widgets.Text(placeholder="what attendees read, e.g. back at 10:15", description="message")
        self.maintenance_on = widgets.Button(description="Maintenance on", button_style="danger")
        self.maintenance_off = widgets.Button(description="Maintenance off")
        self.limit = widgets.BoundedIntText(value=20, min=0, max=100_000, description="limit/min")
        self.limit_set, self.limit_off = widgets.Button(description="Set limit"), widgets.Button(description="Limit off")
        self.models = widgets.Text(value=prober.model, description="models")
        self.models_set, self.models_any = widgets.Button(description="Allow only"), widgets.Button(description="Any model")
        self.cap = widgets.BoundedIntText(value=256, min=1, max=1_000_000, description="max_tokens")
        self.cap_set, self.cap_off = widgets.Button(description="Set cap"), widgets.Button(description="Cap off")
        self.budget = widgets.BoundedIntText(value=5000, min=1, max=10**9, description="budget")
        self.per = widgets.Dropdown(options=["hour", "event"], value="hour", description="per")
        self.budget_set, self.budget_off = widgets.Button(description="Set budget"), widgets.Button(description="Budget off")

        self.maintenance_on.on_click(lambda _: self.maintenance(True, self.message.value))
        self.maintenance_off.on_click(lambda _: self.maintenance(False))
        self.limit_set.on_click(lambda _: self.set_limit(self.limit.value))
        self.limit_off.on_click(lambda _: self.set_limit(None))
        self.models_set.on_click(lambda _: self.allow_models(self.models.value))
        self.models_any.on_click(lambda _: self.allow_models(None))
        self.cap_set.on_click(lambda _: self.set_cap(self.cap.value))
        self.cap_off.on_click(lambda _: self.set_cap(None))
        self.budget_set.on_click(lambda _: self.set_budget(self.budget.value, self.per.value))
        self.budget_off.on_click(lambda _: self.set_budget(None))
        self.initial = self.show_state()
        self.view = self._layout()

    @classmethod
    def open(cls, settings: Settings, target: str | None = None, url: str | None = None,
             model: str = "") -> ControlPanel:
        """The panel for the gateway of ``url`` (default: GATEWAY_URL or the local stack); probes ask
        for ``model``, or else the first model the origin lists."""
        url = url or settings.gateway_url
        credentials = Credentials.from_settings(settings)
        model = choose_model(url, model or None, credentials.headers("control-probe"))
        return cls(open_admin(settings, target, url), probes.Prober(url, credentials=credentials, model=model))

    # -- state -------------------------------------------------------------------------------------
    def show_state(self) -> Controls | None:
        """Reads the controls and shows them; None (and the reason) when they cannot be read."""
        try:
            controls = self.admin.controls()
        except AdminError as error:
            self.errors.append(str(error))
            self.state.value = f"<p style='{STYLE};color:#c62828'>Controls unknown: {html.escape(str(error))}</p>"
            return None
        rows = "".join(f"<tr><td><b>{html.escape(n)}</b></td><td>{html.escape(v)}</td></tr>" for n, v in controls.rows())
        self.state.value = f"<table style='{STYLE}'>{rows}</table>"
        return controls

    # -- changes -----------------------------------------------------------------------------------
    def _apply(self, label: str, change: dict, verify: Callable[[], probes.Step]) -> probes.Step:
        """Sends ``change``, shows the new state, then ``verify``'s probes; logs the step."""
        try:
            self.admin.change(change)
        except AdminError as error:
            step = probes.Step(label, Check(label, "the change accepted", str(error), False))
        else:
            self.show_state()
            step = verify()
        self.steps.append(step)
        self._render_log()
        return step

    def maintenance(self, on: bool, message: str = "") -> probes.Step:
        change = maintenance_change(on, message if on else None)
        text = change["maintenance"]["message"] or ""
        if on:
            return self._apply("maintenance on", change, lambda: probes.check_maintenance(self.prober, text))
        return self._apply("maintenance off", change, lambda: probes.check_normal(self.prober, "maintenance off"))

    def set_limit(self, limit: int | None) -> probes.Step:
        if limit is None:
            return self._apply("limit off", limit_change(None), lambda: probes.check_normal(self.prober, "limit off"))
        return self._apply(f"limit {limit}", limit_change(limit), lambda: probes.check_limit(self.prober, int(limit)))

    def allow_models(self, models: str | None) -> probes.Step:
        if models is None:
            return self._apply("models any", models_change(None), lambda: probes.check_normal(self.prober, "models any"))
        change = models_change(models)
        return self._apply(f"models allow {models}", change, lambda: probes.check_models(self.prober, change["models"][0]))

    def set_cap(self, cap: int | None) -> probes.Step:
        if cap is None:
            return self._apply("max-tokens off", max_tokens_change(None),
                               lambda: probes.check_normal(self.prober, "max-tokens off"))
        return self._apply(f"max-tokens {cap}", max_tokens_change(cap), lambda: probes.check_cap(self.prober, int(cap)))

    def set_budget(self, tokens: int | None, per: str = "event") -> probes.Step:
        if tokens is None:
            return self._apply("budget off", budget_change(None), lambda: probes.check_normal(self.prober, "budget off"))
        return self._apply(f"budget {tokens} per {per}", budget_change(tokens, per),
                           lambda: probes.check_budget(self.prober, int(tokens)))

    def tour(self, *, message: str = "back in 5 minutes", limit: int = 2, cap: int = 4, budget: int = 1) -> list[probes.Step]:
        """Every control on, its probes, then off; the controls found at the start are restored."""
        first = len(self.steps)
        try:
            self.maintenance(True, message)
            self.maintenance(False)
            self.set_limit(limit)
            self.set_limit(None)
            self.allow_models(self.prober.model)
            self.allow_models(None)
            self.set_cap(cap)
            self.set_cap(None)
            self.set_budget(budget, "event")
            self.set_budget(None)
        finally:
            self.restore()
        return self.steps[first:]

    def restore(self) -> Controls | None:
        """Puts back the controls found when the panel opened."""
        if self.initial is None:
            return None
        try:
            self.admin.change(self.initial.to_json())
        except AdminError as error:
            self.errors.append(f"could not restore the controls: {error}")
        return self.show_state()

    # -- display and record -----------------------------------------------------------------------
    def _render_log(self) -> None:
        items = "".join(f"<li>{html.escape(step.describe())}</li>" for step in reversed(self.steps[-30:]))
        self.log.value = f"<ol reversed style='{STYLE}'>{items}</ol>"

    def page_text(self) -> str:
        """Everything the panel shows, as text (what ``checks`` searches for secrets)."""
        return " ".join(f"{getattr(w, 'value', '')} {getattr(w, 'description', '')}" for w in self._widgets())

    def checks(self, secrets: tuple[str, ...] = ()) -> list[Check]:
        """Each step's check, that the controls were restored, and that no secret is on the page."""
        checks = [step.check for step in self.steps]
        restored = self.show_state()
        checks.append(Check("controls restored", self.initial.line() if self.initial else "controls readable",
                            restored.line() if restored else "; ".join(self.errors[-1:]) or "unreadable",
                            restored is not None and self.initial is not None
                            and restored.to_json() == self.initial.to_json()))
        page = self.page_text()
        hidden = [s for s in (self.prober.credentials.key_secret, self.prober.credentials.api_key, *secrets) if s]
        shown = [s for s in hidden if s in page] + (["the admin token"] if self.admin.token_in(page) else [])
        checks.append(Check("no secret on the panel", f"none of {len(hidden) + self.admin.has_token} secret(s) shown",
                            f"{len(shown)} shown", not shown and self.admin.has_token))
        return checks

    def summary(self) -> dict:
        return {"steps": [step.describe() for step in self.steps], "errors": self.errors,
                "controls": self.initial.to_json() if self.initial else None}

    def _widgets(self) -> list[widgets.Widget]:
        """Every widget on the panel, its boxes walked through."""
        found, pending = [], [self.view]
        while pending:
            widget = pending.pop()
            found.append(widget)
            pending.extend(getattr(widget, "children", ()))
        return found

    def _layout(self) -> widgets.VBox:
        def row(*items):
            return widgets.HBox(list(items))

        return widgets.VBox([
            widgets.HTML(f"<b style='{STYLE}'>Controls in force</b>"), self.state,
            row(self.message, self.maintenance_on, self.maintenance_off),
            row(self.limit, self.limit_set, self.limit_off),
            row(self.models, self.models_set, self.models_any),
            row(self.cap, self.cap_set, self.cap_off),
            row(self.budget, self.per, self.budget_set, self.budget_off),
            widgets.HTML(f"<b style='{STYLE}'>What each change did (newest first)</b>"), self.log,
        ])

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)
