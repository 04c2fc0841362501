"""Domain types and pure rule functions of claimflow. No Temporal, no I/O here."""
