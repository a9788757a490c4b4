"""placeholder"""
class CycleGAN: pass
