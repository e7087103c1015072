"""Open Badges 3.0 features: achievements, awards, baked images, claim links."""
