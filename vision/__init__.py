"""From a drone's video to geo-located findings of fire, smoke and illegal parking."""
