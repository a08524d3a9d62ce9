"""The blacklist (黑名单) of production units with dynamic management: listing, expiry,
removal on review, and the published list."""
