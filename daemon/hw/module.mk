# daemon/hw: the PC platform's pure device models and the device bus (no ioctls).
