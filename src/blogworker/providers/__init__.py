"""AI text generators behind one small interface: the official SDKs, plus an offline writer."""
