"""Rotation: which snapshots go (policies/rotation.py decides), forget and prune at one location,
the manifest follows, replication makes every other location match, and a check proves it."""
