"""Programs cities run on top of the KPIs: the Houston monthly review and the Kansas City fiscal-year scorecard."""
