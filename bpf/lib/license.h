/* The object's license. Every program file includes it: the linker keeps one "license"
 * section when their contents are equal. */
#ifndef SHUTTLE_LIB_LICENSE_H
#define SHUTTLE_LIB_LICENSE_H

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif
