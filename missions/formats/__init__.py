"""Mission file formats: MAVLink items as plain data, QGroundControl .plan, QGC WPL 110, GeoJSON."""
