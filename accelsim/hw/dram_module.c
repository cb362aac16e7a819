/* An importable module around dram_kernel.c, for the build tools only: setuptools builds
 * extension modules (and on Windows exports PyInit_<name>). The module has no functions; Python
 * code reaches the kernel through ctypes (dram_kernel.py). */
#define Py_LIMITED_API 0x030A0000
#include <Python.h>

static struct PyModuleDef dram_module = {
    PyModuleDef_HEAD_INIT, "_dram_kernel", "accelsim's DRAM scheduler; see dram_kernel.py", -1,
    NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__dram_kernel(void)
{
    return PyModule_Create(&dram_module);
}
