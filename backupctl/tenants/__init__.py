"""Customers (tenants): offboarding, legal holds, suspension and destruction (docs/tenants.md)."""
