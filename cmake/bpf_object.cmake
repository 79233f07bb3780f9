# shuttle_bpf_object(<name> <source.bpf.c>... [DEFINES <-Dflag>...]): one BPF object from one or
# more program files, compiled with the extra DEFINES (the tests' other builds).
# Each file is compiled alone (clang -target bpf, CO-RE against vmlinux/vmlinux.h), then
# `bpftool gen object` links them into ${BPF_OUT}/<name>.bpf.o, whose maps the files declare
# __weak in a shared header (bpf/lib/maps.h). From the object: the skeleton <name>.skel.h
# (skeleton name <name>_bpf) and <name>.hash.h (#define <name>_bpf_build_hash, and
# <name>_bpf_build_serial: $SHUTTLE_BUILD_SERIAL, else $SOURCE_DATE_EPOCH, else the time the
# object was built, in seconds: the newer build wins, see docs/ARCHITECTURE.md). Target:
# bpf_<name>.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_ARCH arm64)
else()
  set(BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_OUT})
file(GLOB_RECURSE BPF_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h)

function(shuttle_bpf_object name)
  cmake_parse_arguments(BPF "" "" "DEFINES" ${ARGN})
  set(parts "")
  foreach(src ${BPF_UNPARSED_ARGUMENTS})
    get_filename_component(part ${src} NAME)
    string(REPLACE ".bpf.c" "" part ${part})
    set(part_obj ${BPF_OUT}/${name}.${part}.tmp.o)
    add_custom_command(
      OUTPUT ${part_obj}
      COMMAND ${CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_ARCH} ${BPF_DEFINES} -Wall -Werror=implicit-function-declaration
              -I${CMAKE_SOURCE_DIR}/vmlinux -I${CMAKE_SOURCE_DIR}/bpf
              -c ${src} -o ${part_obj}
      # A file that includes the program files (tests/bpf/probes.bpf.c) depends on them too.
      DEPENDS ${src} ${BPF_HEADERS} ${CMAKE_SOURCE_DIR}/vmlinux/vmlinux.h ${BPF_PROGRAM_FILES}
      COMMENT "BPF ${part}.bpf.c (object ${name})"
      VERBATIM)
    list(APPEND parts ${part_obj})
  endforeach()
  set(obj ${BPF_OUT}/${name}.bpf.o)
  set(skel ${BPF_OUT}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPFTOOL} gen object ${obj} ${parts}
    DEPENDS ${parts}
    COMMENT "BPF object ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel} ${BPF_OUT}/${name}.hash.h
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    # The object's hash, known at build time: hashing the ELF on every ADD cost ~0.15 ms.
    COMMAND sh -c "printf '#define ${name}_bpf_build_hash 0x%sull\\n#define ${name}_bpf_build_serial %su\\n' $(sha256sum ${obj} | cut -c1-16) \${SHUTTLE_BUILD_SERIAL:-\${SOURCE_DATE_EPOCH:-$(date +%s)}} > ${BPF_OUT}/${name}.hash.h"
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(bpf_${name} DEPENDS ${skel})
endfunction()
