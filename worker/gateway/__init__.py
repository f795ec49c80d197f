"""The IB session: launch or find a gateway, connect with ib_async, one session at a time."""
