"""Each drone's camera as a live video stream, with every frame's capture time and pose."""
