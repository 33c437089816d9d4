/**
 * Interoperability with PyTorch: safetensors files ({@link org.ccalab.engine.io.SafeTensors}) and attention
 * layer weights under their documented names ({@link org.ccalab.engine.io.LayerWeights}). Bad files are
 * refused with the file and tensor named, and a refused load never changes the layer.
 */
package org.ccalab.engine.io;
