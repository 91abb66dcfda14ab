print("baton-worker: not yet")
