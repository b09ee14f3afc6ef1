"""Webhooks: the tenant's event log posted to the endpoints its admins registered.

:mod:`.addresses` refuses private destinations, :mod:`.sender` makes one signed
POST, :mod:`.worker` delivers one endpoint's events in order, and
:mod:`.service` runs the workers of every tenant (docs/webhooks.md).
"""

from pm_server.webhooks.service import WebhookService

__all__ = ["WebhookService"]
