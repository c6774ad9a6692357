# daemon/boot (loaders, e820, ACPI/MP tables): pure, link only the boot library.
LIBS_test_boot_e820 := boot
LIBS_test_boot_linux := boot
LIBS_test_boot_multiboot := boot
LIBS_test_boot_acpi := boot
LIBS_test_boot_aml := boot
LIBS_fuzz_bzimage := boot
LIBS_fuzz_multiboot := boot
