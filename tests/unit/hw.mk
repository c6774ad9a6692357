# daemon/hw device models: link only the hw library and the irqchip one (the line sink's
# router adapter).
LIBS_test_hw_bus := hw irqchip
LIBS_test_hw_pit := hw irqchip
LIBS_test_hw_rtc := hw irqchip
LIBS_test_hw_dev := hw irqchip
LIBS_fuzz_pit := hw irqchip
LIBS_fuzz_rtc := hw irqchip
LIBS_test_hw_pci := hw irqchip
LIBS_test_hw_virtio := hw irqchip
LIBS_fuzz_virtio_blk := hw irqchip
