"""The policy domain of schoolgate: host names, lists, the decision, devices, bans and storage.

Nothing here imports mitmproxy, dnslib or Flask: DNS, the proxy and the web app all stand on this
package so that they can never disagree about what is blocked.
"""
