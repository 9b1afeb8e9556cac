"""Unattended runs: the jobs a configuration needs, as systemd units or a cron file."""
