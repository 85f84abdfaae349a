"""File formats of the outside world (vendors' antenna pattern files), read into and written
from cellsim's own objects; the physics stays in `cellsim.radio`."""
