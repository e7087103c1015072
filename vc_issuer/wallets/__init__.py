"""Delivery to wallets: VC API exchanges and OpenID4VCI."""
