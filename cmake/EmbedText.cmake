# cmake -DIN=file -DOUT=header -P EmbedText.cmake: writes kSimKernelsPtx, the text of IN.
file(READ ${IN} text)
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#pragma once\nstatic const char kSimKernelsPtx[] = R\"vxpuptx(${text})vxpuptx\";\n")
