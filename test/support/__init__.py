"""What the tests share besides fixtures, where a fixture does not fit (at import, in parametrisation, inside
module-level helpers); pytest.ini puts test/ on the path. Fixtures live in the conftest.py of the folder that uses
them: test/conftest.py (node, ROS domain, released weights, the small detector for commands, scene images),
test/ros/conftest.py (message builders, a listener, the sample-wired node), test/detection/conftest.py (MoveNet).

Here: the installed node, a small detector, the pipeline on skeleton input, marks (CUDA, footage), weights files
made for tests, the tracking scene suite, the message fixtures and the helper processes."""
