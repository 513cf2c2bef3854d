"""plugway.plugins.remote: wiring an out-of-process plugin into a gateway by hand.

``plugway serve`` does this for every host it launches or that registers; a program that runs
gateways without the server builds a ``RemotePlugin`` per plugin over one ``RemoteHost`` per
endpoint. Their failures are ``plugway.plugins.errors.RemotePluginError``.
"""

from ._remote import RemoteHost, RemotePlugin

__all__ = ["RemoteHost", "RemotePlugin"]
