"""The IT admin tray: its icon and window, the cluster watch they share, and cluster health."""
