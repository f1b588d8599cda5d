"""The admin window IT opens from the tray: its users, tokens, audit and cost tabs."""
