"""The attack suite: hostile servers, TLS, hostile input on the wire and the secrets canary."""
