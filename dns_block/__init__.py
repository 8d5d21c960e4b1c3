"""The DNS sinkhole: every device on the school network asks the gateway for names, and this answers.

dns_block decides nothing itself: it asks `rules.policy.decide()` and turns the `Decision` into DNS answers.
The modules are small links, one concern each, assembled in `dns_block.resolver` (read that first).
"""
