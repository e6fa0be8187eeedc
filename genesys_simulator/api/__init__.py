"""The simulator's HTTP side: the shared core, the route table and one module per API family."""
