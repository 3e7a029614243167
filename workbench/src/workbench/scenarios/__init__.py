"""What drives the service end to end: the demo, its traffic, the chaos run and the load run."""
