package runtime

// SetInitBinary makes Start execute bin (instead of /proc/self/exe) as the
// container init, with or without the read-only protection, until the
// returned function is called. Tests use it to attack a copy of the test
// binary and to show that the attack works without the protection.
func SetInitBinary(bin string, protect bool) (restore func()) {
	exeCache.Lock()
	oldBin, oldProtect := initBinary, protectExe
	initBinary, protectExe = bin, protect
	exeCache.Unlock()
	return func() {
		exeCache.Lock()
		initBinary, protectExe = oldBin, oldProtect
		exeCache.Unlock()
	}
}

// ForceGoInit makes Start use the Go init for every container until the
// returned function is called.
func ForceGoInit() (restore func()) {
	old := forceGoInit.Swap(true)
	return func() { forceGoInit.Store(old) }
}
