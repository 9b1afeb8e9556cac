"""Staff signing keys: the private key file each staff member keeps, and the registered public
keys that restore requests and approvals are checked against."""
