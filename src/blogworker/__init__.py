"""BlogQueue worker process: takes jobs from the shared BullMQ queue and runs them."""
