"""What the tests share besides fixtures (pytest.ini puts test/ on the path): the installed node, a small
detector, the tracking scene suite, the message fixtures and the helper processes."""
