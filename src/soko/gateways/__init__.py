"""Adapters to outside systems (webhook receivers, SMS gateways), chosen by `bootstrap.py` only.

Each implements a port of `services/ports.py` and turns the outside world's failures into
`GatewayFailed`, so the use cases never see a library's exceptions.
"""
