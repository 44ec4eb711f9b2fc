"""mitmproxy addon scripts, shipped inside the package as ``replayqa.addons``."""
