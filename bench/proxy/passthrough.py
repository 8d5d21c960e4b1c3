"""Bare mitmdump doing the same pass-through as schoolgate, without any decision: the bench's baseline."""

from mitmproxy import tls


def tls_clienthello(data: tls.ClientHelloData) -> None:
    data.ignore_connection = True
