"""The mini zoo: small configs of the full zoo's library classes, trained on the simulated world."""
