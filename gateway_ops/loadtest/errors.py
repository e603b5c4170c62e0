"""The one error the load tests raise on purpose: a plan that cannot run, said in one sentence."""
from ..exceptions import GatewayOpsError


class LoadTestError(GatewayOpsError, ValueError):
    """A load-test plan is invalid, or the gateway cannot be load-tested (e.g. it does not answer)."""
