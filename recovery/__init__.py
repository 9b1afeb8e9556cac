"""Media recovery: devices (pyudev), repair jobs and custody, imaging (ddrescue), scanning. No
click, no restic."""
