"""The package's one named logger; the CLI sets its level, libraries never print."""
import logging

logger = logging.getLogger("gateway_ops")
