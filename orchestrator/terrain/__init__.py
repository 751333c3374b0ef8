"""Terrain files: importing a bureau's DEM tiles into a scenario."""
