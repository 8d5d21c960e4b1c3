"""The filter proxy: mitmproxy addons that ask `rules.policy.decide()` and act on the answer.

The addons never decide anything themselves. Each hook finds the host at the first moment it is
known (CONNECT, TLS ClientHello, HTTP request), asks the shared `Enforcer`, and then acts: a block
page, a refused CONNECT, a closed connection, or an untouched pass-through. `pipeline.addons()`
assembles them in their run order.
"""
