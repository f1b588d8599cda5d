"""The Lineage page: an entity's lineage, laid out left to right and drawn as a graph."""
