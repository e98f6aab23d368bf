"""The fault suite: fuzzed provider bodies, outages of providers and notifiers, crashes."""
